"""Web pages of the analytics app (thin: parse, call a selector or service, render)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def dashboard(request):
    return render(request, "analytics/dashboard.html")
