from gis_layers.models import DatasetLoad


def data_attribution(request):
    """Attribution of every dataset loaded, for the footer of every page that shows data."""
    if not request.user.is_authenticated:
        return {}
    return {"data_attributions": list(DatasetLoad.objects.values_list("attribution", flat=True))}
