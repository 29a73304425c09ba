using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc;

namespace CellSeg.FunctionalTests;

/// <summary>The accounts Identity serves under <c>/api/auth</c>: register, sign in, refresh, and manage.</summary>
public sealed class AccountsApiTests(StoresFixture stores) : IAsyncLifetime
{
    private const string Password = "Test-password-1";

    private CellSegStack _stack = null!;
    private HttpClient _http = null!;

    public sealed record Tokens(string TokenType, string AccessToken, long ExpiresIn, string RefreshToken);

    public sealed record AccountInfo(string Email, bool IsEmailConfirmed);

    public sealed record TwoFactor(string SharedKey, int RecoveryCodesLeft, bool IsTwoFactorEnabled);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _http = _stack.Api.CreateHttpClient();
    }

    [Fact]
    public async Task AnAccountIsRegisteredOnceAndSignsInOnlyWithItsPassword()
    {
        var ct = TestContext.Current.CancellationToken;
        using (var registered = await _http.PostAsJsonAsync("/api/auth/register", new { email = "lab@cellseg.test", password = Password }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        }

        using (var again = await _http.PostAsJsonAsync("/api/auth/register", new { email = "lab@cellseg.test", password = Password }, ct))
        {
            var problem = await ValidationProblemAsync(again);
            Assert.Contains("DuplicateUserName", problem.Errors.Keys);
        }

        using (var weak = await _http.PostAsJsonAsync("/api/auth/register", new { email = "weak@cellseg.test", password = "Short-1" }, ct))
        {
            var problem = await ValidationProblemAsync(weak);
            Assert.Contains("PasswordTooShort", problem.Errors.Keys);
        }

        using (var wrong = await _http.PostAsJsonAsync("/api/auth/login", new { email = "lab@cellseg.test", password = "Wrong-password-1" }, ct))
        {
            await ProjectsApiTests.AssertProblemAsync(wrong, HttpStatusCode.Unauthorized);
        }

        using (var unknown = await _http.PostAsJsonAsync("/api/auth/login", new { email = "weak@cellseg.test", password = "Short-1" }, ct))
        {
            await ProjectsApiTests.AssertProblemAsync(unknown, HttpStatusCode.Unauthorized);
        }

        var tokens = await SignInAsync("lab@cellseg.test", Password, ct);
        Assert.Equal("Bearer", tokens.TokenType);
        Assert.True(tokens.ExpiresIn > 0);
        Assert.Equal(new AccountInfo("lab@cellseg.test", false), await InfoAsync(tokens.AccessToken, ct));
    }

    [Fact]
    public async Task ARefreshTokenBuysANewBearerTokenAndAForgedOneNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await RegisterAsync("refresh@cellseg.test", ct);
        var tokens = await SignInAsync("refresh@cellseg.test", Password, ct);

        using var refreshed = await _http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = tokens.RefreshToken }, ct);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var renewed = (await refreshed.Content.ReadFromJsonAsync<Tokens>(ct))!;
        Assert.NotEqual(tokens.AccessToken, renewed.AccessToken);
        Assert.Equal("refresh@cellseg.test", (await InfoAsync(renewed.AccessToken, ct)).Email);

        using var forged = await _http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = tokens.RefreshToken[..^4] + "AAAA" }, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);

        using var anonymous = await _http.GetAsync("/api/auth/manage/info", ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task APasswordIsChangedWithTheOldOneAndResetOnlyWithAValidCode()
    {
        var ct = TestContext.Current.CancellationToken;
        await RegisterAsync("manage@cellseg.test", ct);
        var tokens = await SignInAsync("manage@cellseg.test", Password, ct);

        using (var withoutOld = await SendAsync(HttpMethod.Post, "/api/auth/manage/info", tokens.AccessToken, new { newPassword = "Changed-password-2" }, ct))
        {
            Assert.Contains("OldPasswordRequired", (await ValidationProblemAsync(withoutOld)).Errors.Keys);
        }

        using (var changed = await SendAsync(HttpMethod.Post, "/api/auth/manage/info", tokens.AccessToken, new { newPassword = "Changed-password-2", oldPassword = Password }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        }

        using (var old = await _http.PostAsJsonAsync("/api/auth/login", new { email = "manage@cellseg.test", password = Password }, ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        }

        await SignInAsync("manage@cellseg.test", "Changed-password-2", ct);

        // Mail goes nowhere in this deployment; these answer without telling whether the address exists.
        foreach (var (url, body) in new (string, object)[]
        {
            ("/api/auth/forgotPassword", new { email = "manage@cellseg.test" }),
            ("/api/auth/forgotPassword", new { email = "nobody@cellseg.test" }),
            ("/api/auth/resendConfirmationEmail", new { email = "manage@cellseg.test" }),
        })
        {
            using var response = await _http.PostAsJsonAsync(url, body, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var reset = await _http.PostAsJsonAsync("/api/auth/resetPassword", new { email = "manage@cellseg.test", resetCode = "bm90LWEtY29kZQ", newPassword = "Reset-password-3" }, ct))
        {
            Assert.Contains("InvalidToken", (await ValidationProblemAsync(reset)).Errors.Keys);
        }

        using (var confirm = await _http.GetAsync($"/api/auth/confirmEmail?userId={Guid.NewGuid()}&code=bm90LWEtY29kZQ", ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, confirm.StatusCode);
        }

        using var twoFactor = await SendAsync(HttpMethod.Post, "/api/auth/manage/2fa", tokens.AccessToken, new { }, ct);
        Assert.Equal(HttpStatusCode.OK, twoFactor.StatusCode);
        var state = (await twoFactor.Content.ReadFromJsonAsync<TwoFactor>(ct))!;
        Assert.False(state.IsTwoFactorEnabled);
        Assert.False(string.IsNullOrEmpty(state.SharedKey));
    }

    private async Task RegisterAsync(string email, CancellationToken ct)
    {
        using var response = await _http.PostAsJsonAsync("/api/auth/register", new { email, password = Password }, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<Tokens> SignInAsync(string email, string password, CancellationToken ct)
    {
        using var response = await _http.PostAsJsonAsync("/api/auth/login", new { email, password }, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Tokens>(ct))!;
    }

    private async Task<AccountInfo> InfoAsync(string accessToken, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/auth/manage/info", accessToken, null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<AccountInfo>(ct))!;
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string accessToken, object? body, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return _http.SendAsync(request, ct);
    }

    private static async Task<ValidationProblemDetails> ValidationProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(TestContext.Current.CancellationToken))!;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _stack.DisposeAsync();
    }
}
