from ninja import Router

router = Router(tags=["On call"])
