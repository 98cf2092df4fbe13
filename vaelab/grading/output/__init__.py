"""What grading results become: nothing here grades, everything reads the typed records
of ``vaelab.grading.records``.

- ``report``: the report as text and as HTML for notebooks, and a class's gradebook (CSV,
  JSON);
- ``hints``: the next hint for the first failing check, remembered by check id;
- ``summary``: what a class got wrong, from a gradebook or from Gradescope's results;
- ``gradescope``: Gradescope's results.json, and the autograder zip built from
  ``templates/setup.sh`` and ``templates/run_autograder``.
"""
