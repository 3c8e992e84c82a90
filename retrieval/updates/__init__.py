"""Keeping the index current while the bot runs: what changed (:mod:`.changes`), the updates run
one at a time in the background (:mod:`.worker`), the corpus followed on disk (:mod:`.watch`),
and documents added to or removed from the corpus folder (:mod:`.intake`, :mod:`.fetch`).

The update itself is :meth:`retrieval.service.AnswerService.update`.
"""
