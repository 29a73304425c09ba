using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CellSeg.Data;
using CellSeg.LoadGen;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>Tests that measure the process's managed heap run alone, after every parallel class has finished.</summary>
[CollectionDefinition(nameof(HeapMeasurement), DisableParallelization = true)]
public sealed class HeapMeasurement;

/// <summary>
/// A full upload request does not make the Api hold its files: the Api runs in this process, so the managed heap
/// of the process bounds what the Api keeps while the request streams from files on disk.
/// </summary>
[Collection(nameof(HeapMeasurement))]
public sealed class UploadMemoryTests(StoresFixture stores) : IAsyncLifetime
{
    private const int Files = 100;
    private const long MaxHeapGrowthBytes = 50L * 1024 * 1024;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("cellseg-upload-memory-");
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("upload-memory@cellseg.test", ct);
    }

    private sealed record StoredImage(Guid Id, string FileName, long SizeBytes);

    private sealed record UploadAnswer(IReadOnlyList<StoredImage> Images, IReadOnlyList<object> Rejected);

    [Fact]
    public async Task HundredFilesOfOneMegabyteAreStoredWhileTheHeapGrowsLessThanFiftyMegabytes()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Full request", ct);
        var paths = Enumerable.Range(0, Files).Select(i => Path.Combine(_folder.FullName, $"{i:D3}.png")).ToList();
        await WriteFilesAsync(paths, ct);

        using var form = new MultipartFormDataContent();
        foreach (var path in paths)
        {
            var content = new StreamContent(File.OpenRead(path));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(content, "files", Path.GetFileName(path));
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak;
        HttpResponseMessage response;
        using (var sampler = new HeapSampler())
        {
            response = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", form, ct);
            peak = sampler.Stop();
        }

        using (response)
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var answer = (await response.Content.ReadFromJsonAsync<UploadAnswer>(ct))!;
            Assert.Equal(paths.Select(Path.GetFileName), answer.Images.Select(i => i.FileName));
            Assert.Empty(answer.Rejected);
        }

        var growth = peak - baseline;
        TestContext.Current.TestOutputHelper?.WriteLine($"Managed heap: baseline {baseline / 1048576.0:F1} MB, peak {peak / 1048576.0:F1} MB, growth {growth / 1048576.0:F1} MB.");
        Assert.True(growth < MaxHeapGrowthBytes, $"The managed heap grew by {growth / 1048576.0:F1} MB while 100 MB were uploaded.");

        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var lengths = await db.ImageContents.AsNoTracking()
            .Where(c => db.Images.Any(i => i.Id == c.ImageId && i.ProjectId == project.Id))
            .Select(c => c.Data.Length)
            .ToListAsync(ct);
        Assert.Equal(Files, lengths.Count);
        Assert.All(lengths, length => Assert.Equal(new FileInfo(paths[0]).Length, length));
    }

    private static async Task WriteFilesAsync(List<string> paths, CancellationToken ct)
    {
        var png = UploadFiles.NoisePng(590, 590, seed: 7);
        Assert.InRange(png.Length, 1_000_000, 1_200_000);
        foreach (var path in paths)
        {
            await File.WriteAllBytesAsync(path, png, ct);
        }
    }

    /// <summary>Reads the process's managed heap size every millisecond or so on a thread of its own.</summary>
    private sealed class HeapSampler : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stopped;
        private long _peak;

        public HeapSampler()
        {
            _thread = new Thread(() =>
            {
                while (!_stopped)
                {
                    _peak = Math.Max(_peak, GC.GetTotalMemory(forceFullCollection: false));
                    Thread.Sleep(1);
                }
            }) { IsBackground = true, Name = "heap sampler" };
            _thread.Start();
        }

        public long Stop()
        {
            _stopped = true;
            _thread.Join();
            return _peak;
        }

        public void Dispose() => Stop();
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
