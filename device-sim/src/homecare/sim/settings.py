"""Where the simulator finds the platform: the ``HOMECARE_*`` variables (and ``.env``) every homecare command reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from homecare.sim.mqtt_url import BrokerAddress, parse_mqtt_url

_ANY_ADDRESS = {"", "0.0.0.0", "::"}  # an API listening on every address is reached on this machine's loopback


class SimSettings(BaseSettings):
    """The broker, the API and its token, and the data folder, as the platform's own processes read them."""

    model_config = SettingsConfigDict(
        env_prefix="HOMECARE_", env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="The broker (credentials in it are not used).")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr | None = Field(default=None, description="Default: the installation's, in data_dir/api-token.")
    sim_api_url: str | None = Field(default=None, description="The API, when not at api_host:api_port.")
    data_dir: Path = Path("var")

    @property
    def broker(self) -> BrokerAddress:
        return parse_mqtt_url(self.mqtt_url)

    @property
    def api_url(self) -> str:
        if self.sim_api_url:
            return self.sim_api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in _ANY_ADDRESS else self.api_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.api_port}"

    def token(self) -> str | None:
        """The API token: HOMECARE_API_TOKEN, or the one `homecare run` made for this data folder."""
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        try:
            return (self.data_dir / "api-token").read_text().strip() or None
        except OSError:
            return None
