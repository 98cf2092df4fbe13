"""The quiz question bank: one module per lesson, ``lessonNN.py``, each holding ``QUESTIONS``.

A multiple-choice question is a dict with ``id`` ("NN.name"), ``text``, ``options``,
``correct`` (an index) and ``explanations`` (one per option, saying why it is right or
wrong). A numeric question has ``compute`` (a function that calls vaelab and returns the
expected value), ``tolerance``, ``unit``, ``explanation``, ``hint`` and optional
``mistakes`` (``{"compute": ..., "explanation": ...}`` for common wrong answers).
``vaelab.quiz`` loads and checks them.
"""
