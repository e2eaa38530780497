from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# SECURITY WARNING: keep the secret key used in production secret!
SECRET_KEY = 'django-insecure-7#k2q!v9zl@x4m8p$w1r5t^y3u6i0o-e+b&n_c=s(h)j*d'

DEBUG = False

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'app',
        'USER': 'app',
        'PASSWORD': 'Dj8!vQz2Lm5x',
        'HOST': 'db',
        'PORT': '5432',
    }
}
