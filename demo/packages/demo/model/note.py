# encoding: utf-8
"""demo.note: a title and a body; what the demo page lists and the tests write.

The demo's scheduled task (``tasks/scheduled_note``, every minute) is registered in
``sys.task`` at ``gnr db setup``. Every saved note is announced to every open page over GenroPy's real-time channel
(topic ``demo_note_saved``), after the commit: the websocket tests wait for it.
"""
import logging

from gnr.core.gnrbag import Bag

logger = logging.getLogger('demo.note')

NOTE_SAVED_TOPIC = 'demo_note_saved'
SCHEDULED_TASK = dict(task_name='demo scheduled note', table_name='demo.note',
                      command='tasks/scheduled_note', frequency=1)


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('note', pkey='id', name_long='Note', name_plural='Notes',
                        caption_field='title')
        self.sysFields(tbl)
        tbl.column('title', size=':120', name_long='Title')
        tbl.column('body', name_long='Body')

    def trigger_onInserted(self, record):
        self.db.deferAfterCommit(self.announce_note, title=record['title'],
                                 _deferredId='announce_%s' % record['id'])

    def announce_note(self, title=None):
        """Publish the title to all pages ('*') through the async server, if the site has one."""
        site = getattr(self.db.application, 'site', None)
        wsk = site.wsk if site is not None else None
        if not wsk:
            return
        try:
            wsk.publishToClient('*', topic=NOTE_SAVED_TOPIC, data=Bag(dict(title=title)))
        except OSError as exc:  # async server restarting: the note is saved all the same
            logger.warning('note %r saved, not announced: %s', title, exc)

    def onDbSetup_scheduledTask(self):
        """(``gnr db setup`` calls the tables' ``onDbSetup_*``.) Register the task once.

        raw_insert: sys.task's insert trigger asks a running scheduler to reload, and at
        ``gnr db setup`` none runs; a scheduler reads the table when it starts.
        """
        tasktbl = self.db.table('sys.task')
        if tasktbl.query(where='$task_name=:name', name=SCHEDULED_TASK['task_name']).count():
            return
        record = tasktbl.newrecord(**SCHEDULED_TASK)
        record['id'] = tasktbl.newPkeyValue(record)
        tasktbl.raw_insert(record)
        self.db.commit()
