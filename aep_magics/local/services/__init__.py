"""One module per emulated AEP service. Services take a :class:`Call` and give back a :class:`Reply`;
they never see the HTTP framework."""
