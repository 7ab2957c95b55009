import requests, base64
from datetime import datetime, timedelta

apiToken = "FVquFITiVsu3RJ6KbkigpOJccmQFUqMwo6ftCaiWoXXvkyutWZ7t3veZmost1nxEO6OUEMiabu0BZn0N1wR3ssB11ohoRX4a"
startReceivedDate = datetime.utcnow() - timedelta(minutes=60)

response = requests.get("https://api.astrocast.com/v1/messages?startReceivedDate=" + str(startReceivedDate.strftime("%Y-%m-%dT%H:%M:%S")), headers={"X-Api-Key":str(apiToken)})
if response.status_code == 200:
    if len(response.json()) > 0:
        for message in response.json():
            deviceGuid = str(message['deviceGuid'])
            messageGuid = str(message['messageGuid'])
            latitude = message['latitude']
            longitude = message['longitude']
            payload = base64.b64decode(message['data']).hex()
    else:
        print("There is no message.")
else:
    print("Error, something is wrong in the request.")
