"""Messages people see about their account. Tests import these constants."""

LOCKED_OUT = (
    "Too many failed log-ins for {username} from your address: it is locked for {cooloff}. "
    "Reset your password by email, or ask an admin to unlock it."
)
