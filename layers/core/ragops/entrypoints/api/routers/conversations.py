"""``/v1/conversations``: the caller's conversations (per tenant and per user)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import Response

from ragops.entrypoints.api.deps import ContainerDep, TenantDep, UserDep
from ragops.entrypoints.api.errors import ERRORS
from ragops.entrypoints.api.schemas import (
    ConversationListOut,
    ConversationOut,
    conversation_out,
    conversation_summary,
)
from ragops.services.conversations import (
    delete_conversation,
    get_conversation,
    list_conversations,
)

router = APIRouter()


@router.get(
    "/v1/conversations",
    tags=["conversations"],
    response_model=ConversationListOut,
    responses=ERRORS,
)
def conversations(container: ContainerDep, tenant: TenantDep, user: UserDep) -> ConversationListOut:
    """The caller's conversations within the tenant, the latest updated first. Callers
    that name no user (``X-User-Id``) share one list per tenant."""
    found = list_conversations(container.conversation_context(), tenant, user)
    return ConversationListOut(conversations=[conversation_summary(c) for c in found])


@router.get(
    "/v1/conversations/{conversation_id}",
    tags=["conversations"],
    response_model=ConversationOut,
    responses=ERRORS,
)
def conversation(
    conversation_id: str, container: ContainerDep, tenant: TenantDep, user: UserDep
) -> ConversationOut:
    """One conversation's turns, oldest first; 404 for another tenant's or user's."""
    found = get_conversation(container.conversation_context(), tenant, user, conversation_id)
    return conversation_out(found)


@router.delete(
    "/v1/conversations/{conversation_id}",
    tags=["conversations"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
def remove_conversation(
    conversation_id: str, container: ContainerDep, tenant: TenantDep, user: UserDep
) -> Response:
    """Delete a conversation and its turns; 404 for another tenant's or user's."""
    delete_conversation(container.conversation_context(), tenant, user, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
