"""The machinery that walls learner code in while its file is graded.

Threat model
------------

*Self-grading* (``vaelab grade FILE``, ``vaelab.grade.check`` in a notebook): the learner
grades their own work on their own machine, and is honest. The file runs in a process of
its own (forked from a forkserver that has torch and the checks imported), with a time
limit, a memory limit (``RLIMIT_DATA`` and ``RLIMIT_AS``) and Python-level guards
(vaelab's protected functions switched off, an audit hook): these stop mistakes (an
endless loop, a runaway tensor, calling vaelab's answer by accident) and make cheating
visible, not impossible. Someone who owns the machine can read vaelab's source anyway.

*Class and Gradescope grading* (``vaelab grade --class``, ``--gradescope``/``--exercises``,
``run_autograder``): the files come from strangers, and any of them may be hostile: read
the references or the test solutions, tamper with classmates' files, forge the gradebook
or results.json, kill or stop the grader, leave daemons, exhaust memory or disk. There the
walls are the operating system's (``isolation``): each file is copied privately first
(symbolic links and other non-regular files refused), then run in a fresh interpreter's
fork (never the grader's), in new PID, mount, IPC, network, UTS and user namespaces, as
uid 65534 without capabilities, seeing only its own copy, a read-only Python and a vaelab
whose protected functions' source is absent, with a size-capped private tmpfs and a memory
cap that shared mappings count against (and, where the grader may make them, cgroups that
cap the memory and the number of all its processes together), under a seccomp filter that
refuses the kernel keyring and new namespaces; ending its sandbox ends every process it
started.

Not guarded (residual risks): a vaelab installed as a copy rather than editable shows its
own source through the Python prefix the sandbox binds; the sandbox's ``/proc/1/cmdline``
shows bubblewrap's command line (host paths, no secrets); the unprivileged-user-namespace
path (a grader that is not root) has not been run on a real machine; without a sandbox a
hostile file can read the library and signal other processes of its uid.
Where the machine cannot make the sandbox (no bubblewrap, no user namespaces: some Docker
images, macOS), grading falls back to the self-grading process, run as an unprivileged
uid when the grader is root (``vaelab-student`` on Gradescope, else 65534), and prints one
line saying the isolation is weaker.

- ``processes``: the forkserver that has torch, vaelab and the checks imported once;
- ``jobs``: grades many files from the asking process (torch-free), through grader
  workers started from the forkserver;
- ``runner``: runs one exercise's checks on one file, in a grader worker, and records what
  happened (``vaelab.grading.records``);
- ``sandbox``: the grader's side of the learner's process: starts it, sends it requests,
  waits for the answers within the time limit, stops it;
- ``child``: the learner's process: imports the file, calls its functions when asked,
  answers with plain data;
- ``wire``: the frames and the plain data that cross between the two;
- ``isolation`` and ``zygote``: the sandbox (bubblewrap) and the fresh interpreter whose
  forks join it, for untrusted files.

What is guarded and how is written at the top of ``child`` and ``sandbox``.
"""
