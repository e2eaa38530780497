region = "eu-west-1"
db_password = "Tv3!zQ8mLx2p"
