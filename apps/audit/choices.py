from django.db import models


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILURE = "failure", "Failure"


class Channel(models.TextChoices):
    API = "api", "REST API"
    ADMIN = "admin", "Admin"
    CONSOLE = "console", "Console"
    CLI = "cli", "Command line"
    PROXY = "proxy", "kubectl proxy"
    WEBSOCKET = "websocket", "Websocket"
    TASK = "task", "Background task"
