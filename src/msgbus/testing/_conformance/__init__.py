"""The conformance kit's parts: ``kit`` (the backend under test and its feature flags), ``failures``
(the failure policy's cases) and ``many`` (``message_read_many``'s cases).
``msgbus.testing.conformance`` is the public face.
"""
