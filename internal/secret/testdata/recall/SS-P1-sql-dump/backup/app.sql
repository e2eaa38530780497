-- MySQL dump 10.13  Distrib 8.0.36
DROP TABLE IF EXISTS `users`;
CREATE TABLE `users` (`id` int NOT NULL, `email` varchar(255), `password` varchar(255), PRIMARY KEY (`id`));
LOCK TABLES `users` WRITE;
INSERT INTO `users` VALUES (1,'admin@corp.internal','$2y$10$Q8zmN2vLw0Rt5YkP3xJ7bOC1dE4fG6hI9jK2lM5nO8pQrS3tU6vW9'),(2,'ops@corp.internal','$argon2id$v=19$m=65536,t=4,p=1$c2FsdHNhbHRzYWx0$Q8zmN2vLw0Rt5YkP3xJ7bC1dE4fG6hI9jK2lM5nO8pQ');
UNLOCK TABLES;
