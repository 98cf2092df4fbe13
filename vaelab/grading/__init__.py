"""The grader behind ``vaelab grade`` and ``vaelab.grade.check``, one module per job.

- ``exNN``: the checks of exercise NN (``exercises/exNN_*.py``, lesson NN), each a function
  of the learner's module worth some points;
- ``common``: inputs and known mistakes that several exercises share;
- ``toolkit``: what every check uses: ``Mistake``, comparisons with tolerances, calling
  learner code safely;
- ``runner``: finds an exercise's checks (it loads ``exNN`` by name) and runs them;
- ``sandbox``: grades each file in a process of its own, with time and memory limits;
- ``report``: the report as text, HTML and a class's gradebook.

The public face is ``vaelab.grade``.
"""
