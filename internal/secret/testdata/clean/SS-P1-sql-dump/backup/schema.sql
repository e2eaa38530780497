-- MySQL dump 10.13  Distrib 8.0.36
CREATE TABLE `users` (`id` int NOT NULL, `email` varchar(255), `password` varchar(255), PRIMARY KEY (`id`));
INSERT INTO `settings` VALUES (1,'site_name','Corp intranet');
