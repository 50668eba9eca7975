module gocbench

go 1.19
