using CellSeg.Api.Apis;
using CellSeg.Api.Extensions;
using CellSeg.Api.Realtime;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.MapDefaultEndpoints();
app.MapOpenApi();
if (app.Environment.IsDevelopment())
{
    app.MapScalarApiReference();
}

app.MapAccountsApi();
app.MapProjectsApi();
app.MapImagesApi();
app.MapSegmentationApi();
app.MapResultsApi();
app.MapExportApi();
app.MapSegmentationHub();

app.Run();
