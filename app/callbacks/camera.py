"""Camera: the two 3D surfaces turn together, and a URL's camera reaches both.

Both are clientside (``cameraSync`` and ``applyCamera`` of ``app/assets/funnelscope.js``): the
graphs are turned in the browser, and the shared camera goes to the CAMERA store (from there
into the URL, :mod:`app.callbacks.url`). The constants the script needs come from the
``clientside-config`` store (:func:`app.layout.clientside_config`). A slice drawn as a 2D
contour map or heatmap has no camera: the sync leaves it alone.
"""

from dash import ClientsideFunction, Dash, Input, Output, State

from app import ids
from app.ids import pid

NAMESPACE = "funnelscope"  # window.dash_clientside.funnelscope (app/assets/funnelscope.js)


def clientside(function_name: str) -> ClientsideFunction:
    """A function of the page's script, ``app/assets/funnelscope.js``."""
    return ClientsideFunction(namespace=NAMESPACE, function_name=function_name)


def register(app: Dash) -> None:
    """Keep both surfaces' cameras in step, and turn them to a URL's camera."""
    left, right = (pid(side, ids.SURFACE) for side in ids.PANELS)
    app.clientside_callback(
        clientside("cameraSync"),
        Output(ids.CAMERA, "data", allow_duplicate=True),
        Input(left, "relayoutData"),
        Input(right, "relayoutData"),
        State(ids.CAMERA, "data"),
        State(ids.CLIENTSIDE, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(clientside("applyCamera"), Input(ids.CAMERA, "data"),
                            State(ids.CLIENTSIDE, "data"), prevent_initial_call=True)
