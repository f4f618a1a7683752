"""Your own documents: folders indexed into the conversation database, searched and cited.

* :mod:`~assistant.docs.readers` and :mod:`~assistant.docs.office` turn one file's bytes into
  blocks of text with their page, line or row numbers (or a reason the file is skipped), the
  types of :mod:`~assistant.docs.document`;
* :mod:`~assistant.docs.chunker` groups blocks into heading- and paragraph-aware chunks;
* :mod:`~assistant.docs.walk` lists a collection's files without leaving its folder;
* :mod:`~assistant.docs.index` keeps collections, files, chunks, FTS5 and vectors current;
* :mod:`~assistant.docs.search` ranks chunks by keywords, embeddings, or both fused;
* :mod:`~assistant.docs.service` indexes in the background and is what a skill is handed.
"""
