var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddPostgres("postgres").WithDataVolume();
var cellsegdb = postgres.AddDatabase("cellsegdb");
var redis = builder.AddRedis("redis");

var inference = builder.AddProject<Projects.CellSeg_Inference>("inference")
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.CellSeg_QueueWorker>("queueworker")
    .WithReference(cellsegdb)
    .WithReference(redis)
    .WithReference(inference)
    .WaitFor(cellsegdb)
    .WaitFor(redis)
    .WaitFor(inference)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.CellSeg_Api>("api")
    .WithReference(cellsegdb)
    .WithReference(redis)
    .WaitFor(cellsegdb)
    .WaitFor(redis)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
