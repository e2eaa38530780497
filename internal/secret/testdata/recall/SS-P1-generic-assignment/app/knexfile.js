module.exports = {
  production: {
    client: 'pg',
    connection: {
      host: 'db',
      user: 'app',
      password: 'Kx9#vQz2Lm5p',
      database: 'app'
    }
  }
};
