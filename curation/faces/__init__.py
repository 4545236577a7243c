"""Faces: MTCNN detection, dlib's 5-point landmarks and dlib-style aligned chips."""
