module.exports = {
  production: {
    client: 'pg',
    connection: {
      host: process.env.DB_HOST,
      password: process.env.DB_PASSWORD,
    }
  }
};
