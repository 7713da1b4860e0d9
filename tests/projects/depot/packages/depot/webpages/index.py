# -*- coding: utf-8 -*-
"""The depot's one page."""


class GnrCustomWebPage(object):
    def main(self, root, **kwargs):
        root.div('depot')
