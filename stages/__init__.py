"""One module per actor of a call. The call supervisor in receptionist/ wires them."""
