"""The grader behind ``vaelab grade`` and ``vaelab.grade.check``, one module per job.

- ``exNN``: the checks of exercise NN (``exercises/exNN_*.py``, lesson NN), each worth
  some points, and ``PROTECTED``, vaelab's own answers that are switched off while the
  exercise is graded;
- ``common``: inputs and known mistakes that several exercises share;
- ``toolkit``: what every check uses: ``Mistake``, the seeded inputs (``Draw``), calls
  into the learner's process (``learner_function``), comparisons with tolerances;
- ``runner``: finds an exercise's checks (it loads ``exNN`` by name) and runs them on a
  file, in the grading process;
- ``sandbox``: starts the learner's process, sends it requests and waits for the answers
  within the time limit;
- ``child``: the learner's process: imports the file, calls its functions when asked,
  answers with plain data;
- ``wire``: the frames and the plain data that cross between the two;
- ``report``: the report as text, HTML and a class's gradebook.

The public face is ``vaelab.grade``.
"""
