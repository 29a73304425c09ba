using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace CellSeg.LoadGen;

/// <summary>A lab user's view of the Api: what the demo and the load scenarios do, over plain HTTP.</summary>
public sealed class CellSegApiClient(HttpClient http)
{
    public sealed record TokenResponse(string AccessToken, string RefreshToken, long ExpiresIn);
    public sealed record ProjectDto(Guid Id, string Name);
    public sealed record ImageDto(Guid Id, Guid ProjectId, string FileName, string Format, int Width, int Height, string Status, string? Error, DateTimeOffset UpdatedAt);
    public sealed record ImagePage(IReadOnlyList<ImageDto> Items, int Page, int PageSize, int Total);
    public sealed record RejectedFile(string FileName, string Reason);
    public sealed record UploadResponse(IReadOnlyList<ImageDto> Images, IReadOnlyList<RejectedFile> Rejected);
    public sealed record TaskDto(Guid Id, Guid ImageId, string Model, string Status);
    public sealed record ResultDto(Guid ImageId, Guid TaskId, string Model, string Device, int Width, int Height, int ObjectCount, JsonElement Objects);

    public HttpClient Http => http;

    /// <summary>Registers the user (if new) and signs in with a bearer token used by every later call.</summary>
    public async Task SignInAsync(string email, string password, CancellationToken cancellationToken)
    {
        using (var register = await http.PostAsJsonAsync("/api/auth/register", new { email, password }, cancellationToken))
        {
            if (!register.IsSuccessStatusCode && (int)register.StatusCode != 400)
            {
                register.EnsureSuccessStatusCode();
            }
        }

        using var login = await http.PostAsJsonAsync("/api/auth/login", new { email, password }, cancellationToken);
        login.EnsureSuccessStatusCode();
        var token = await login.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
            ?? throw new InvalidDataException("Login answered no token.");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
    }

    public async Task<ProjectDto> CreateProjectAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/api/projects", new { name }, cancellationToken);
        return await ReadAsync<ProjectDto>(response, cancellationToken);
    }

    public async Task<UploadResponse> UploadAsync(Guid projectId, IEnumerable<(string FileName, byte[] Bytes)> files, CancellationToken cancellationToken)
    {
        using var form = new MultipartFormDataContent();
        foreach (var (fileName, bytes) in files)
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(content, "files", fileName);
        }

        using var response = await http.PostAsync($"/api/projects/{projectId}/images", form, cancellationToken);
        return await ReadAsync<UploadResponse>(response, cancellationToken);
    }

    public sealed record BatchDto(Guid BatchId, IReadOnlyList<TaskDto> Queued);

    /// <summary>Queues many images of a project as one batch.</summary>
    public async Task<BatchDto> RequestBatchSegmentationAsync(
        Guid projectId, IReadOnlyList<Guid> imageIds, string? model, CancellationToken cancellationToken) =>
        await RequestBatchSegmentationAsync(projectId, imageIds, model, force: false, cancellationToken);

    /// <summary>Queues many images of a project as one batch; <paramref name="force"/> queues segmented ones again.</summary>
    public async Task<BatchDto> RequestBatchSegmentationAsync(
        Guid projectId, IReadOnlyList<Guid> imageIds, string? model, bool force, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync($"/api/projects/{projectId}/segmentation", new { imageIds, model, force }, cancellationToken);
        return await ReadAsync<BatchDto>(response, cancellationToken);
    }

    /// <summary>Uploads many files, at most <paramref name="perRequest"/> per request.</summary>
    public async Task<List<ImageDto>> UploadManyAsync(Guid projectId, IReadOnlyList<(string FileName, byte[] Bytes)> files, int perRequest, CancellationToken cancellationToken)
    {
        var images = new List<ImageDto>(files.Count);
        foreach (var chunk in files.Chunk(perRequest))
        {
            images.AddRange((await UploadAsync(projectId, chunk, cancellationToken)).Images);
        }

        return images;
    }

    public async Task<TaskDto> RequestSegmentationAsync(Guid imageId, string? model, CancellationToken cancellationToken) =>
        await RequestSegmentationAsync(imageId, model, force: false, cancellationToken);

    /// <summary>Queues one image; <paramref name="force"/> queues a segmented one again.</summary>
    public async Task<TaskDto> RequestSegmentationAsync(Guid imageId, string? model, bool force, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync($"/api/images/{imageId}/segmentation", new { model, force }, cancellationToken);
        return await ReadAsync<TaskDto>(response, cancellationToken);
    }

    /// <summary>Every image of a project, page by page.</summary>
    public async Task<List<ImageDto>> ListImagesAsync(Guid projectId, CancellationToken cancellationToken)
    {
        var images = new List<ImageDto>();
        for (var page = 1; ; page++)
        {
            using var response = await http.GetAsync($"/api/projects/{projectId}/images?page={page}&pageSize=100", cancellationToken);
            var current = await ReadAsync<ImagePage>(response, cancellationToken);
            images.AddRange(current.Items);
            if (images.Count >= current.Total || current.Items.Count == 0)
            {
                return images;
            }
        }
    }

    public async Task<ImageDto> GetImageAsync(Guid imageId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/api/images/{imageId}", cancellationToken);
        return await ReadAsync<ImageDto>(response, cancellationToken);
    }

    public async Task<ResultDto> GetResultAsync(Guid imageId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/api/images/{imageId}/result", cancellationToken);
        return await ReadAsync<ResultDto>(response, cancellationToken);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {body}", null, response.StatusCode);
        }

        return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
            ?? throw new InvalidDataException($"{response.RequestMessage?.RequestUri} answered an empty body.");
    }
}
