using K8s = Aspire.Hosting.Kubernetes.Resources;

var builder = DistributedApplication.CreateBuilder(args);

// `aspire publish` writes a Helm chart for this environment; in run mode it is not part of the model.
builder.AddKubernetesEnvironment("k8s");

var postgres = builder.AddPostgres("postgres").WithDataVolume();
var cellsegdb = postgres.AddDatabase("cellsegdb");
var redis = builder.AddRedis("redis");

var inference = builder.AddProject<Projects.CellSeg_Inference>("inference")
    .WithReplicas(2)
    .WithHttpHealthCheck("/health")
    .PublishAsKubernetesService(service =>
    {
        // One GPU per Inference pod: the chart is for GPU nodes (NVIDIA device plugin) running the CUDA build
        // (-p:OnnxRuntimeGpu=true). deploy/kubernetes has the CPU and GPU variants side by side.
        if (service.Workload is not K8s.Deployment deployment)
        {
            return;
        }

        var pod = deployment.Spec.Template.Spec;
        pod.Tolerations.Add(new K8s.TolerationV1 { Key = "nvidia.com/gpu", Operator = "Exists", Effect = "NoSchedule" });
        foreach (var container in pod.Containers)
        {
            container.Resources ??= new K8s.ResourceRequirementsV1();
            container.Resources.Limits["nvidia.com/gpu"] = "1";
            container.Env.Add(new K8s.EnvVarV1 { Name = "Inference__Device", Value = "cuda" });
        }
    });

builder.AddProject<Projects.CellSeg_QueueWorker>("queueworker")
    .WithReplicas(2)
    .WithReference(cellsegdb)
    .WithReference(redis)
    .WithReference(inference)
    .WaitFor(cellsegdb)
    .WaitFor(redis)
    .WaitFor(inference)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.CellSeg_Api>("api")
    .WithReplicas(2)
    .WithReference(cellsegdb)
    .WithReference(redis)
    .WaitFor(cellsegdb)
    .WaitFor(redis)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
