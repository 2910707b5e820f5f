"""``batchpay serve``: the web app for HR (makers), approvers and accountants (issue 15).

* :mod:`~batchpay.web.app` — :func:`create_app` and :class:`WebConfig`;
* :mod:`~batchpay.web.users` — local accounts (``batchpay users``), Argon2id hashes;
* :mod:`~batchpay.web.sessions` — server-side sessions with idle expiry, CSRF tokens;
* :mod:`~batchpay.web.auth` — roles per action, login redirects, 403 pages;
* :mod:`~batchpay.web.uploads` — streamed uploads with a size limit, random stored names;
* :mod:`~batchpay.web.checking` — the CLI's validation calls and the page's view of them;
* :mod:`~batchpay.web.sending` — ``approval.send`` on a thread, its progress for the page;
* ``routes_auth``, ``routes_sheets``, ``routes_runs``, ``routes_approvals``,
  ``routes_progress`` (server-sent events) — the pages.

Needs the ``web`` extra (``pip install 'batchpay[web]'``).
"""
