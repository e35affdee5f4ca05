"""Training side of realtime_ser: corpus loaders, CTC label-sequence targets and the
offline grapheme-to-phoneme and EmoDB phone-label helpers they rest on."""
