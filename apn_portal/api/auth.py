"""POST /api/v1/auth/token/: an integrator trades a username and password for its API token.

The password goes through django-axes like every other sign-in, so repeated failures lock the account
out here as on the site and the admin (429 with a JSON message).
"""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apn_portal.api.serializers import KnownFieldsOnlyMixin


class TokenObtainSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, write_only=True, style={"input_type": "password"})


class TokenObtainView(APIView):
    """Your API token, for your username and password: the one you already have, or a new one. Send it as
    `Authorization: Token <key>` with every other request. Repeated failures lock the sign-in out for a
    while, as on the site."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_obtain",
        request=TokenObtainSerializer,
        responses={
            200: inline_serializer("TokenObtained", {"token": serializers.CharField()}),
            400: OpenApiResponse(description="A field is missing or malformed."),
            401: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(
                description="Too many failed sign-ins: locked out for a while (each attempt meanwhile "
                "starts the wait again), or too many requests. `Retry-After` says how many seconds to wait."
            ),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            # A lockout is answered by django-axes' middleware (apn_portal.accounts.lockout), whatever
            # this view returns.
            return Response(
                {"detail": "Wrong username or password."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Token realm="api"'},
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_200_OK)
