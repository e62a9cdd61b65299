"""chatjournal: a client for the chatjournal HTTP service (`chatjournal
serve`), standard library only. See docs/clients.md in the repository."""

from .client import Client, Page
from .errors import (AuthenticationError, BadRequestError, ChatjournalError, ConflictError,
                     FeedError, NotFoundError, PayloadTooLargeError, PermissionDeniedError,
                     RateLimitedError, ServerError, TransportError, UnavailableError)
from .follow import Follow
from .ids import new_id

__version__ = "0.1.0"
__all__ = ["Client", "Page", "Follow", "new_id", "ChatjournalError", "BadRequestError",
           "AuthenticationError", "PermissionDeniedError", "NotFoundError", "ConflictError",
           "PayloadTooLargeError", "RateLimitedError", "UnavailableError", "ServerError",
           "TransportError", "FeedError"]
