"""Training: the settings (:mod:`.settings`, torch-free), the loop (:mod:`.loop`), its
augmentation (:mod:`.augment`) and checkpoints (:mod:`.checkpoint`), and the run's
fingerprint (:mod:`.fingerprint`)."""
