from ninja import Router

from core.api import BearerToken
from core.permissions import can_respond
from incidents import errors as incident_errors

router = Router(auth=BearerToken(may_write=can_respond, refusal=incident_errors.NOT_PERMITTED))
