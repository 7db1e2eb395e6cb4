"""What the acknowledge link and the policy admin say when they refuse. Tests import these."""

LINK_INVALID = "This acknowledge link is not valid. Open the incident from the app instead."
LINK_EXPIRED = "This acknowledge link has expired. Open the incident from the app instead."
LINK_USED = "This acknowledge link was already used."
LEVEL_WITHOUT_TARGET = "A level pages someone: choose a schedule or people."
