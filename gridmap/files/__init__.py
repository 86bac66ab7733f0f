"""Photos and files (照片): checking uploads by content, the object stores (disk, S3), and
attaching photos to requests and check-ins."""
