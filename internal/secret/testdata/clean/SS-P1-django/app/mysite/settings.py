import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'app',
        'PASSWORD': os.environ.get('DB_PASSWORD', ''),
    }
}
