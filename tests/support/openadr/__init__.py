"""A real OpenLEADR VTN, its certificates and VEN settings for the OpenADR tests."""
