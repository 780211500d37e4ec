from ..models import Post
from .base import Repository


class PostRepository(Repository[Post]):
    model = Post
