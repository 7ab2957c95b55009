import requests
import base64

# Configuration
API_KEY = "your_api_key_here"
USERNAME = "your_username"
PASSWORD = "your_password"
BASE_URL = "https://api-next.africawildlifetracking.com/v2"

# Step 1: Get bearer token
def get_token():
    auth_string = f"{USERNAME}:{PASSWORD}"
    auth_bytes = auth_string.encode('utf-8')
    auth_b64 = base64.b64encode(auth_bytes).decode('utf-8')
    headers = {
        "X-API-KEY": API_KEY,
        "Authorization": f"Basic {auth_b64}"
    }
    response = requests.post(f"{BASE_URL}/token", headers=headers)
    if response.status_code == 200:
        return response.json()["token"]
    else:
        raise Exception(f"Authentication failed: {response.json()}")

# Step 2: Get devices
def get_devices(token):
    headers = {
        "X-API-KEY": API_KEY,
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json"
    }
    response = requests.get(f"{BASE_URL}/devices", headers=headers)
    if response.status_code == 200:
        return response.json()
    else:
        raise Exception(f"Failed to get devices: {response.json()}")

# Example usage
token = get_token()
devices = get_devices(token)
print(f"Found {len(devices)} devices:")
for device in devices:
    print(f"  - Tag ID: {device['tag_id']}, Type: {device['device_type']}")

def get_latest_data(token):
    headers = {
        "X-API-KEY": API_KEY,
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json"
    }
    response = requests.get(f"{BASE_URL}/data/latest", headers=headers)
    if response.status_code == 200:
        return response.json()
    else:
        raise Exception(f"Failed to get data: {response.json()}")

# Example usage
latest_data = get_latest_data(token)
print(f"Received {len(latest_data)} readings")
