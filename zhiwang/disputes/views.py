"""Web pages of the disputes app (thin: parse, call a selector or service, render)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "disputes/home.html")
