"""Embedding intent router: routes each request to a skill, or falls back to general chat.

* :mod:`~assistant.router.types`: :class:`RouteSpec` (a skill's examples) and :class:`RouteChoice`;
* :mod:`~assistant.router.embedders`: the :class:`Embedder` seam, :class:`FakeEmbedder`,
  :class:`MiniLMEmbedder` and ``make_embedder``; :mod:`~assistant.router.vectors` their shared
  vector helpers; :mod:`~assistant.router.onnx_path`, :mod:`~assistant.router.int8` and
  :mod:`~assistant.router.adapt` the fast and tuned copies of MiniLM;
* :mod:`~assistant.router.router`: :class:`Router` (head, calibration, decisions in
  :mod:`~assistant.router.decide`);
* :mod:`~assistant.router.service`: :class:`RouterService`, built in the background;
* :mod:`~assistant.router.sources`: routes from the installed skills, and user ``Corrections``;
* :mod:`~assistant.router.settings`: the ``[router]`` table (a leaf: the config imports it).

Import names from their modules; this package file imports nothing, so loading the config
never pulls in numpy, and torch loads only when MiniLM is made.
"""
