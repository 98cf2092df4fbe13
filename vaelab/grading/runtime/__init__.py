"""The machinery that walls learner code in while its file is graded.

- ``processes``: the forkserver that has torch, vaelab and the checks imported once;
- ``jobs``: grades many files from the asking process (torch-free), through grader
  workers started from the forkserver;
- ``runner``: runs one exercise's checks on one file, in a grader worker, and records what
  happened (``vaelab.grading.records``);
- ``sandbox``: the grader's side of the learner's process: starts it, sends it requests,
  waits for the answers within the time limit, stops it;
- ``child``: the learner's process: imports the file, calls its functions when asked,
  answers with plain data;
- ``wire``: the frames and the plain data that cross between the two.

What is guarded and how is written at the top of ``child`` and ``sandbox``.
"""
