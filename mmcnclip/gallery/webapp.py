"""The local web UI of a gallery (FastAPI + one static page).

Routes: ``/`` the page; ``/api/search`` (GET: text and/or a gallery image
id; POST: text and/or an uploaded image) returns ranked results as JSON;
``/thumb/PATH`` and ``/photo/PATH`` serve an indexed image's cached
thumbnail and the file itself, only for indexed files inside the folder.
"""
import os.path as osp
import socket
from typing import Optional
from urllib.parse import quote

from fastapi import FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse

from .search import GallerySearch
from .thumbnails import ThumbnailCache

PAGE = osp.join(osp.dirname(osp.abspath(__file__)), 'static', 'index.html')


def _results(searcher: GallerySearch, k: int, offset: int, **query) -> dict:
    try:
        hits = searcher.search(k=k, offset=offset, **query)
    except ValueError as e:
        raise HTTPException(status_code=400, detail=str(e)) from e
    for hit in hits:
        hit['name'] = osp.basename(hit['path'])
        hit['thumb'] = '/thumb/' + quote(hit['path'])
        hit['photo'] = '/photo/' + quote(hit['path'])
    return dict(results=hits, offset=offset, k=k, total=len(searcher))


def _indexed_file(searcher: GallerySearch, path: str) -> str:
    try:
        return searcher.file_of(path)
    except PermissionError as e:
        raise HTTPException(status_code=403, detail=str(e)) from e
    except FileNotFoundError as e:
        raise HTTPException(status_code=404, detail=str(e)) from e


def create_app(searcher: GallerySearch, thumbnails: ThumbnailCache) -> FastAPI:
    """The FastAPI application of a gallery.

    Args:
        searcher (GallerySearch): The opened gallery.
        thumbnails (ThumbnailCache): Where thumbnails are cached.

    Returns:
        FastAPI: The app.
    """
    app = FastAPI(title='mmcnclip gallery', docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get('/')
    def page():
        return FileResponse(PAGE, media_type='text/html; charset=utf-8')

    @app.get('/api/search')
    def search_get(q: str = '', image_id: Optional[int] = None,
                   k: int = Query(20, ge=1, le=500),
                   offset: int = Query(0, ge=0),
                   w: float = Query(0.5, ge=0, le=1)):
        return _results(searcher, k, offset, text=q or None,
                        image_id=image_id, text_weight=w)

    @app.post('/api/search')
    def search_post(q: str = Form(''), file: Optional[UploadFile] = File(None),
                    k: int = Form(20), offset: int = Form(0),
                    w: float = Form(0.5)):
        image = file.file.read() if file is not None else None
        return _results(searcher, k, offset, text=q or None,
                        image=image or None, text_weight=w)

    @app.get('/thumb/{path:path}')
    def thumb(path: str):
        return FileResponse(thumbnails.get(_indexed_file(searcher, path)),
                            media_type='image/jpeg')

    @app.get('/photo/{path:path}')
    def photo(path: str):
        return FileResponse(_indexed_file(searcher, path))

    return app


def serve(app: FastAPI, host: str = '127.0.0.1', port: int = 0) -> None:
    """Serve until interrupted; prints the URL (``port=0``: a free port).

    Args:
        app (FastAPI): The app.
        host (str): Interface; loopback only by default. Defaults to
            '127.0.0.1'.
        port (int): Defaults to 0 (any free port).
    """
    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    print(f'Serving the gallery on http://{host}:{sock.getsockname()[1]}/',
          flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level='warning'))
    server.run(sockets=[sock])
