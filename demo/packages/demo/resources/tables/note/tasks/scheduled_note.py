# -*- coding: utf-8 -*-
"""The demo's scheduled task: writes a note titled 'scheduled <UTC time>'.

Registered in sys.task by the demo package at ``gnr db setup`` (every minute); run by
``gnr web taskworker`` when the scheduler (``gnr web taskscheduler``) queues it.
"""
from datetime import datetime, timezone

from gnr.web.batch.btcbase import BaseResourceBatch

caption = 'Scheduled note'
description = 'Write a note stamped with the time the task ran'


class Main(BaseResourceBatch):
    batch_title = 'Scheduled note'
    batch_cancellable = False

    def do(self):
        stamp = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
        self.tblobj.insert(self.tblobj.newrecord(title='scheduled %s' % stamp,
                                                 body='written by the demo scheduled task'))
        self.db.commit()
