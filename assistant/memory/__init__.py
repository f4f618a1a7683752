"""Conversation memory: the SQLite store, context fitting, summaries, titles and recall.

* :mod:`~assistant.memory.store`: :class:`Store`, the one owner of the database
  (:mod:`~assistant.memory.connection` its durability policy, :mod:`~assistant.memory.migrations`
  the schema steps, :mod:`~assistant.memory.records` the rows it returns);
* :mod:`~assistant.memory.transfer`: Markdown, JSON and JSON Lines export and import;
* :mod:`~assistant.memory.context`: ``fit_messages`` fits history to a model's window;
* :mod:`~assistant.memory.summary`, :mod:`~assistant.memory.titles`,
  :mod:`~assistant.memory.recall`: the rolling summary, titles, and search over past turns;
* :mod:`~assistant.memory.settings`: the ``[memory]`` table (a leaf: the config imports it).

Import names from their modules; this package file imports nothing, so loading the config
(and so ``assistant --help``) never pulls in sqlite-utils or numpy.
"""
