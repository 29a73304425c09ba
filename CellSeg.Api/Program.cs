using CellSeg.Api.Apis;
using CellSeg.Api.Extensions;
using CellSeg.Api.Realtime;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapAccountsApi();
app.MapProjectsApi();
app.MapImagesApi();
app.MapSegmentationApi();
app.MapResultsApi();
app.MapExportApi();
app.MapSegmentationHub();

app.Run();
