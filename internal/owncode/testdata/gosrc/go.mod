module example.com/insecureapp

go 1.22
